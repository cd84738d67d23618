from roomgrid.pca import read_embedding
from roomgrid.report import plot_pca_variance
from roomgrid.runlog import logged

with logged(snakemake.log[0]):
    _, _, facts = read_embedding(snakemake.input[0])
    plot_pca_variance(facts["explained_variance_ratio"], snakemake.output[0])
