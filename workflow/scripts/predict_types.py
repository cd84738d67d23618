import sys

# Everything runs under the guard: worker processes started with 'spawn' re-import this file as
# __mp_main__, and must neither re-run the stage nor expect the snakemake object.
if __name__ == "__main__":
    # The workflow's own package, also where it is not pip-installed (conda envs, clusters).
    sys.path.insert(0, f"{snakemake.scriptdir}/../../src")

    from roomgrid.runlog import logged
    from roomgrid.stages import run_predict_types

    with logged(snakemake.log[0]):
        p, i = snakemake.params, snakemake.input
        run_predict_types(dict(zip(p.cities, i.scans)), dict(zip(p.cities, i.features)),
                          snakemake.output.predictions, snakemake.output.metrics,
                          dataset=p.dataset, labels_csv=i.labels_csv or None,
                          labels_h5=i.labels_h5 or None, clusters_tsv=i.clusters or None,
                          cluster_labels=p.cluster_labels, cluster_examples=p.cluster_examples)
