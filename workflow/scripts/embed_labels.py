import sys

# Everything runs under the guard: worker processes started with 'spawn' re-import this file as
# __mp_main__, and must neither re-run the stage nor expect the snakemake object.
if __name__ == "__main__":
    # The workflow's own package, also where it is not pip-installed (conda envs, clusters).
    sys.path.insert(0, f"{snakemake.scriptdir}/../../src")

    from roomgrid.cull import embed_label_folder
    from roomgrid.io import write_table
    from roomgrid.runlog import logged

    with logged(snakemake.log[0]):
        p = snakemake.params
        files = embed_label_folder(p.labels_dir, snakemake.output.features, kind=p.kind,
                                   model_onnx=snakemake.input.model or None,
                                   threads=snakemake.threads, device=p.device, stack=p.stack,
                                   max_pixels=p.max_pixels)
        write_table(files, snakemake.output.files)
