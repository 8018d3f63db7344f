-- The video catalog lives beside Prefect's database; `vidp catalog upgrade` makes its tables.
CREATE DATABASE vidp OWNER prefect;
