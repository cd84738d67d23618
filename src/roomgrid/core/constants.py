"""Numbers that several layers agree on, kept in the lowest layer so every import points down."""

# t-SNE places no fewer points (its perplexity needs neighbours); the map starts there too.
MIN_PHOTOS = 4
