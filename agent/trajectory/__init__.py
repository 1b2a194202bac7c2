"""Trajectory folders (the on-disk record of every run, fill, recording and replay) and their HTML
report."""

from agent.trajectory.store import Trajectory, TrajectoryError, TrajectoryWriter, read_trajectory, verify

__all__ = ["Trajectory", "TrajectoryError", "TrajectoryWriter", "read_trajectory", "verify"]
