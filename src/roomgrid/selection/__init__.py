"""Which scanned photos go on the map (select) and reading that choice back (tables). Imports core,
sources, scan and features."""
