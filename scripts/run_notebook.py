#!/usr/bin/env python3
"""Executes a notebook headless against one experiment directory and saves
the executed copy beside the experiment's results.

    run_notebook.py NOTEBOOK EXPERIMENT_DIR

The notebook reads the directory from $RNNLAB_EXPERIMENT. Exits non-zero,
with the failing cell's error, if any cell raises.
"""
import os
import sys

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    notebook, experiment = sys.argv[1], os.path.abspath(sys.argv[2])
    if not os.path.isfile(os.path.join(experiment, "summary.csv")):
        sys.exit(f"{experiment} has no summary.csv: run the experiment (rnnlab run) first")
    os.environ["RNNLAB_EXPERIMENT"] = experiment
    nb = nbformat.read(notebook, as_version=4)
    client = NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": os.getcwd()}})
    out = os.path.join(experiment, os.path.basename(notebook))
    try:
        client.execute()
    except CellExecutionError as e:
        nbformat.write(nb, out)
        sys.exit(f"{notebook} failed on {experiment}:\n{e}")
    nbformat.write(nb, out)
    print(f"executed {notebook} on {experiment} -> {out}")


if __name__ == "__main__":
    main()
