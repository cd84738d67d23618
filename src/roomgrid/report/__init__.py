"""Figures for the Snakemake report (figures: selection and embedding; features: clusters and
culling; common: what they share). Reads every layer; no layer reads it."""
