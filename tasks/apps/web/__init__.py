"""Rail&Go, the bundled web booking site (server, sqlite store, static pages) shown in Chromium."""
