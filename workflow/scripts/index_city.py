import sys

# Everything runs under the guard: worker processes started with 'spawn' re-import this file as
# __mp_main__, and must neither re-run the stage nor expect the snakemake object.
if __name__ == "__main__":
    # The workflow's own package, also where it is not pip-installed (conda envs, clusters).
    sys.path.insert(0, f"{snakemake.scriptdir}/../../src")

    from roomgrid.io import write_table
    from roomgrid.runlog import logged
    from roomgrid.sources import index_city, metadata_for_city

    with logged(snakemake.log[0]) as log:
        city = snakemake.wildcards.city
        metadata = metadata_for_city(snakemake.input.metadata or None, city)
        table = index_city(city, snakemake.params.city_dir, metadata=metadata)
        write_table(table, snakemake.output[0])
        log.info("%s: %d photos indexed", city, len(table))
