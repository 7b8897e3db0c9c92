"""Our interleaved shards in other trainers' layouts (`flamingo export`). No Beam here.

* :mod:`pipeline.export.mmc4`: OpenFlamingo's MMC4 webdataset layout (``KEY.json`` with
  ``text_list``, ``image_info[].image_base64`` and ``similarity_matrix``);
* :mod:`pipeline.export.obelics`: OBELICS parquet (``texts``/``images`` aligned lists) with the
  image bytes embedded and Hugging Face feature metadata, so ``datasets`` sees every image.
"""
