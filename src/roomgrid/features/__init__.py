"""What a photo shows: CNN features (cnn), k-means clusters (clusters) and the culling classifier
(cull). Imports core, sources and scan."""
