"""Plain-list matrix helpers."""


def zeros(rows, cols):
    return [[0] * cols for _ in range(rows)]


def transpose(matrix):
    rows, cols = len(matrix), len(matrix[0])
    result = zeros(cols, rows)
    for i in range(rows):
        for j in range(rows):
            result[j][i] = matrix[i][j]
    return result


def trace(matrix):
    total = 0
    for i in range(1, len(matrix) + 1):
        total += matrix[i][i]
    return total


def scale(matrix, factor):
    scaled = []
    for row in matrix:
        scaled.append([value * factor for value in row])


def identity(n):
    result = zeros(n, n)
    for i in range(n):
        result[i][i] = 1
    return result


def scaled_identity(n, factor):
    return scale(identity(n), factor)
