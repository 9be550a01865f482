"""When Kepler quarters and TESS sectors were observed (MJD), and their file-name timestamps."""

from __future__ import annotations

from datetime import datetime, timedelta

# Quarter -> (start MJD, end MJD, long-cadence file timestamp). Timestamps are the real ones;
# start/end are approximate (good to a day or so).
KEPLER_QUARTERS: tuple[tuple[float, float, str], ...] = (
    (54953.0, 54962.7, "2009131105131"), (54964.0, 54997.5, "2009166043257"),
    (55002.0, 55091.0, "2009259160929"), (55092.7, 55182.0, "2009350155506"),
    (55184.9, 55274.7, "2010078095331"), (55276.0, 55370.7, "2010174085026"),
    (55372.0, 55461.8, "2010265121752"), (55462.7, 55552.1, "2010355172524"),
    (55567.9, 55634.8, "2011073133259"), (55641.0, 55738.4, "2011177032512"),
    (55739.3, 55832.8, "2011271113734"), (55833.7, 55930.8, "2012004120508"),
    (55931.9, 56014.5, "2012088054726"), (56015.2, 56105.5, "2012179063303"),
    (56106.6, 56203.8, "2012277125453"), (56206.0, 56303.6, "2013011073258"),
    (56304.6, 56390.5, "2013098041711"), (56391.7, 56423.5, "2013131215648"),
)
KEPLER_BJD_OFFSET = 2454833.0  # Kepler/K2 TIME is BJD - 2454833
TESS_BJD_OFFSET = 2457000.0  # TESS TIME (BTJD) is BJD - 2457000
MJD_TO_JD = 2400000.5
SECTOR_DAYS = 27.4
_SECTOR1_START = datetime(2018, 7, 25)
_SECTOR1_MJD = 58324.0  # 2018-07-25
_FILE_TIME_OF_DAY = timedelta(hours=4, minutes=58, seconds=59)  # sector 1's is tess2018206045859


def quarter_mjd(quarter: int) -> tuple[float, float]:
    start, end, _ = KEPLER_QUARTERS[quarter]
    return start, end


def quarter_timestamp(quarter: int) -> str:
    return KEPLER_QUARTERS[quarter][2]


def sector_mjd(sector: int) -> tuple[float, float]:
    start = round(_SECTOR1_MJD + SECTOR_DAYS * (sector - 1), 4)
    return start, round(start + SECTOR_DAYS - 1.0, 4)


def sector_timestamp(sector: int) -> str:
    """``2018206045859`` for sector 1: the sector's start day (YYYYDDD) at a fixed time."""
    moment = _SECTOR1_START + timedelta(days=round(SECTOR_DAYS * (sector - 1))) + _FILE_TIME_OF_DAY
    return moment.strftime("%Y%j%H%M%S")
