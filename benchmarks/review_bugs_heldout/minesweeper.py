"""A Minesweeper board: mines, neighbour counts and what the player has opened."""


def empty_board(height, width):
    return [[0] * width for _ in range(height)]


def count_mines(mines):
    height, width = len(mines), len(mines[0])
    counts = empty_board(height, width)
    for r in range(height):
        for c in range(height):
            if mines[r][c]:
                continue
            counts[r][c] = neighbours(mines, r, c)
    return counts


def neighbours(mines, r, c):
    total = 0
    for dr in (-1, 0, 1):
        for dc in (-1, 0, 1):
            nr, nc = r + dr, c + dc
            if (dr or dc) and 0 <= nr < len(mines) and 0 <= nc < len(mines[0]):
                total += mines[nr][c]
    return total


def symmetric(square):
    n = len(square)
    for i in range(n):
        for j in range(n):
            if square[i][j] != square[j][i]:
                return False
    return True


def opened_count(opened):
    return sum(1 for row in opened for cell in row if cell)


def won(mines, opened):
    cells = len(mines) * len(mines[0])
    mine_count = sum(sum(row) for row in mines)
    return opened_count(opened) == cells + mine_count
