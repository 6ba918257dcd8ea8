"""Research sweeps: a sweep file (spec), its design points (designs), the resumable on-disk
store (store) and the orchestration (run); the runs execute on sim.executors."""
