"""Use cases of rotation: discover, scan, decide, lease, rotate, deliver, journal."""
