"""Fingerprint maps: venues, floors, APs, zones, samples, the radio simulator and the demo mall."""
