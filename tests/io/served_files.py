"""What the ``served`` fixture serves: a real GRIB2 file, its inventory and a small file."""

WAVE = "wgrib2__gdaswave.t00z.wcoast.0p16.f000.grib2"
SMALL = bytes(range(256)) * 4  # served as /small.bin
