"""``python -m roomgrid.scrape AREA OUT_DIR``: scrape one area outside the workflow.

The command keeps its name while the scraper lives in :mod:`roomgrid.sources.scrape`.
"""

import sys

from .sources.scrape.__main__ import main

if __name__ == "__main__":
    sys.exit(main())
