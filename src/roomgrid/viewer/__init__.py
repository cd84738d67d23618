"""What a person looks at: the JPEG tile pyramid (tiles/), the viewer's data and page (page),
the clusters panel's data (clusters), the arrangements' cells (arrangements), shared value
conversions (values) and the static assets (assets/). Imports every layer below it, never the
report."""
