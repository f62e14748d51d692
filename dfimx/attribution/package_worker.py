"""Run the deeplift package (TensorFlow-1 graph code) on jobs described in a directory.

Started by :mod:`dfimx.attribution.package` as
``python -m dfimx.attribution.package_worker DIR``.  The
package's ``import tensorflow`` is pointed at ``tf.compat.v1`` with version-2 behaviour
disabled, which is why this runs in its own process.  ``DIR/request.json`` lists the jobs;
arrays are ``.npy`` files read with ``allow_pickle=False``; results are written as
``DIR/out_<job>.npy`` and timings to ``DIR/result.json``.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import time


def _install_compat_tensorflow() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    v1 = tf.compat.v1
    v1.disable_v2_behavior()
    sys.modules["tensorflow"] = v1


def _fresh_graph() -> None:
    import deeplift.util
    import tensorflow as tf  # tf.compat.v1 here

    session = deeplift.util._SESS  # noqa: SLF001 - the package's own session cache
    if session is not None:
        session.close()
    deeplift.util._SESS = None  # noqa: SLF001
    tf.reset_default_graph()


def main(workdir: str) -> int:
    _install_compat_tensorflow()
    import numpy as np
    from deeplift.conversion import kerasapi_conversion as kc
    from deeplift.layers import NonlinearMxtsMode

    modes = {
        "rescale": NonlinearMxtsMode.Rescale,
        "revealcancel": NonlinearMxtsMode.RevealCancel,
        "genomics_default": NonlinearMxtsMode.DeepLIFT_GenomicsDefault,
        "gradient": NonlinearMxtsMode.Gradient,
    }
    with open(os.path.join(workdir, "request.json")) as fh:
        request = json.load(fh)
    timings = []
    for j, job in enumerate(request["jobs"]):
        _fresh_graph()  # each job alone in its graph and session: earlier jobs do not slow it
        configs = job["layers"]
        for cfg in configs:
            files = cfg["config"].pop("weight_files", None)
            if files is not None:
                cfg["config"]["weights"] = [
                    np.load(os.path.join(workdir, f), allow_pickle=False) for f in files
                ]
        t0 = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            model = kc.convert_sequential_model(
                configs, nonlinear_mxts_mode=modes[job["mode"]], verbose=False
            )
            func = model.get_target_contribs_func(
                find_scores_layer_idx=0, target_layer_idx=job["target_layer_idx"]
            )
        x = np.load(os.path.join(workdir, job["x"]), allow_pickle=False)
        ref = np.load(os.path.join(workdir, job["ref"]), allow_pickle=False)
        batch = int(job["batch_size"])
        with contextlib.redirect_stdout(io.StringIO()):
            for task in job["tasks"]:  # warm-up (first session runs), not timed
                func(task_idx=int(task), input_data_list=[x[:batch]],
                     input_references_list=[ref[:batch]], batch_size=batch,
                     progress_update=None)
        t1 = time.perf_counter()
        outs = []
        with contextlib.redirect_stdout(io.StringIO()):
            for task in job["tasks"]:
                res = func(
                    task_idx=int(task),
                    input_data_list=[x],
                    input_references_list=[ref],
                    batch_size=int(job["batch_size"]),
                    progress_update=None,
                )
                outs.append(np.asarray(res, dtype=np.float32))
        t2 = time.perf_counter()
        np.save(os.path.join(workdir, f"out_{j}.npy"), np.stack(outs, axis=-1))
        timings.append({"convert_s": t1 - t0, "score_s": t2 - t1})  # convert_s: + warm-up
    with open(os.path.join(workdir, "result.json"), "w") as fh:
        json.dump({"timings": timings}, fh)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
