"""Training tasks, one package each (`settings`: its flags as a TensorFlow-free dataclass;
`task`: the `Task` the one loop runs; `serving`: its SavedModel module), the registry that
names them (`registry`), run folders read back typed (`run_folder`) and the one export
path (`export_run`)."""
