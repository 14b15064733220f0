#!/bin/sh
# Headless Chromium for the HTML report's browser test. Installs it from Debian's packages when
# this machine can (root with apt-get, as CI does); elsewhere the browser test is skipped.
if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing chromium for the HTML report test ..." >&2
    apt-get update -qq >/dev/null 2>&1
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1 && exit 0
fi
echo "chromium is not installed: the HTML browser test will be skipped" >&2
exit 0
