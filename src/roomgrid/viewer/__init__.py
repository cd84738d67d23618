"""What a person looks at: the JPEG tile pyramid (tiles/), the viewer's data and page (page) and
its static assets (assets/). Imports every layer below it, never the report."""
