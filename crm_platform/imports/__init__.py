"""Record imports from CSV and XLSX files (docs/import.md): one runner for the API, the CLI and the page."""
