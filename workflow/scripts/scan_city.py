import sys

# Everything runs under the guard: worker processes started with 'spawn' re-import this file as
# __mp_main__, and must neither re-run the stage nor expect the snakemake object.
if __name__ == "__main__":
    # The workflow's own package, also where it is not pip-installed (conda envs, clusters).
    sys.path.insert(0, f"{snakemake.scriptdir}/../../src")

    from roomgrid.runlog import logged
    from roomgrid.scan import ScanSettings, scan_city

    with logged(snakemake.log[0]):
        settings = ScanSettings(**{k: v for k, v in snakemake.params.items()})
        scan_city(snakemake.input[0], snakemake.output.scan, snakemake.output.stacks,
                  snakemake.output.thumbs, settings)
