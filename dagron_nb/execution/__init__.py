"""Running a DAG: the scheduler state machine and the executors that drive it."""
