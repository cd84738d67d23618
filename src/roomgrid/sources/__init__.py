"""Where photos come from: a folder the user has, the generated demo, or a scrape."""
