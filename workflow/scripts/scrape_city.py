from pathlib import Path

from roomgrid.runlog import logged
from roomgrid.scrape import scrape_city

with logged(snakemake.log[0]):
    scrape_city(snakemake.wildcards.city, Path(snakemake.output[0]).parent, snakemake.params.settings)
