from roomgrid.demo import make_demo_city
from roomgrid.runlog import logged

with logged(snakemake.log[0]):
    make_demo_city(snakemake.wildcards.city, snakemake.output[0], **snakemake.params)
