"""Run as `python -m tests.mlops.sqlite_writers PATH`: two writers on the quick-start settings' SQLite
file at PATH, the second of which reads before it writes while the first holds the write lock (the
interleaving that made an API call answer "database is locked"). Prints the journal mode, then "ok"
or the error the second writer met."""

import os
import sys
import threading

os.environ["DATABASE_URL"] = f"sqlite:///{sys.argv[1]}"

import django  # noqa: E402
from django.conf import settings  # noqa: E402

from mlops import settings as keel_settings  # noqa: E402

# Keel's database settings alone: no app needs loading to write to a table.
settings.configure(DATABASES=keel_settings.DATABASES, USE_TZ=True)
django.setup()

from django.db import OperationalError, connection, transaction  # noqa: E402

first_wrote = threading.Event()
second_read = threading.Event()
errors: list[str] = []


def first_writer():
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("INSERT INTO note (text) VALUES ('first')")
            first_wrote.set()
            # Holds the write lock until the second writer has read (or, when its transaction waits
            # for this lock before reading, for a moment).
            second_read.wait(timeout=0.3)
    except OperationalError as error:
        errors.append(f"first: {error}")
    finally:
        first_wrote.set()
        connection.close()


def second_writer():
    first_wrote.wait(timeout=5)
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM note")
            second_read.set()
            cursor.execute("INSERT INTO note (text) VALUES ('second')")
    except OperationalError as error:
        errors.append(f"second: {error}")
    finally:
        second_read.set()
        connection.close()


with connection.cursor() as cursor:
    cursor.execute("CREATE TABLE note (id INTEGER PRIMARY KEY, text TEXT)")
    cursor.execute("PRAGMA journal_mode")
    print(cursor.fetchone()[0])
connection.close()

threads = [threading.Thread(target=first_writer), threading.Thread(target=second_writer)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()

with connection.cursor() as cursor:
    cursor.execute("SELECT COUNT(*) FROM note")
    rows = cursor.fetchone()[0]
print("; ".join(errors) if errors else f"ok {rows}")
