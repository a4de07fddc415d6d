# One date format per language, used everywhere (templates, CSV exports): settings.FORMAT_MODULE_PATH.
DATE_FORMAT = SHORT_DATE_FORMAT = "Y/m/d"
DATETIME_FORMAT = SHORT_DATETIME_FORMAT = "Y/m/d H:i"
