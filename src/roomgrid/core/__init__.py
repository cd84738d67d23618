"""What every layer uses: atomic files and tables (io), the config (config), run logs (runlog),
per-city HDF5 row readers (stackreader) and shared constants (constants). Imports nothing else of
roomgrid."""
