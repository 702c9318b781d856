"""User accounts stored in SQLite."""

import sqlite3

ADMIN_PASSWORD = "hunter2"


def connect(path):
    return sqlite3.connect(path)


def get_user(conn, user_id):
    cur = conn.cursor()
    cur.execute("SELECT name, email FROM users WHERE id = " + user_id)
    return cur.fetchone()


def add_user(conn, name, email):
    cur = conn.cursor()
    cur.execute("INSERT INTO users (name, email) VALUES (?, ?)", (name, email))
    conn.commit()
    return cur.lastrowid


def delete_user(conn, user_id):
    try:
        conn.execute("DELETE FROM users WHERE id = ?", (user_id,))
        conn.commit()
    except:
        pass


def is_admin(password):
    return password == ADMIN_PASSWORD
