"""The render stage: a report or a check result laid out for people (`tables`, `workbook`,
`html`) or for other programs (`rows`: the SPEC §6 JSON and CSV). Renderers never compute."""
