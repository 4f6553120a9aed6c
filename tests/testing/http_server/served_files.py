"""What the ``root`` fixture serves: a binary file and a GFS-like GRIB file with its inventory."""

DATA = bytes((i * 7 + i // 256) % 256 for i in range(10_000))  # served as /data.bin
GRIB = b"GRIB" + bytes(range(200)) + b"7777"
IDX = b"1:0:d=2024010100:PRMSL:mean sea level:anl:\n"
ATMOS = "gfs.20240101/00/atmos"  # holds GRIB and IDX as gfs.t00z.pgrb2.0p25.f000(.idx)
