import sys

# Everything runs under the guard: worker processes started with 'spawn' re-import this file as
# __mp_main__, and must neither re-run the stage nor expect the snakemake object.
if __name__ == "__main__":
    # The workflow's own package, also where it is not pip-installed (conda envs, clusters).
    sys.path.insert(0, f"{snakemake.scriptdir}/../../src")

    from roomgrid.cnn import EmbedSettings, embed_city
    from roomgrid.runlog import logged

    with logged(snakemake.log[0]):
        p = snakemake.params
        settings = EmbedSettings(threads=snakemake.threads, device=p.device,
                                 batch_size=p.batch_size, draft=p.draft, max_pixels=p.max_pixels)
        embed_city(snakemake.input.photos, snakemake.input.scan, snakemake.input.model,
                   snakemake.output[0], settings)
