"""What a person looks at: sample grids and atlases, facets, the dataset's own examples in the band, the HTML page."""
