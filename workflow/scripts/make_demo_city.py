from roomgrid.demo import make_demo_city
from roomgrid.runlog import logged

# Guarded: worker processes started with 'spawn' re-import this file as __mp_main__.
if __name__ == "__main__":
    with logged(snakemake.log[0]):
        make_demo_city(snakemake.wildcards.city, snakemake.output[0], **snakemake.params)
