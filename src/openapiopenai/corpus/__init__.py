"""Many files at once: input lists (folders, list files, manifests), a process pool for ``detect``,
and ``openapiopenai segment`` on Ray Data (the optional ``openapiopenai[ray]`` extra).

Every path here scores a file exactly as ``openapiopenai detect`` does (``files.detect_file``), so
a corpus run, a pooled run and a single-file run give the same segments.
"""
