"""One pass over each city's photos (city): decoding (decode), entropy triage (triage), dHash and
duplicate groups (dedup), blur stacks and thumbnails (stacks); reading the scan tables (tables).
Imports core and sources."""
