"""Package data: the shipped digits data set (see DIGITS_LICENSE.txt)."""
