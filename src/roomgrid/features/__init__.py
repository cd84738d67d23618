"""What a photo shows: CNN features (cnn), k-means clusters (clusters), the user's labels
(labels) and the culling classifier (cull). Imports core, sources and scan."""
