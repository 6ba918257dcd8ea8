"""Research sweeps: a sweep file (spec), its design points (designs), where runs execute
(executors), the resumable on-disk store (store) and the orchestration (run)."""
