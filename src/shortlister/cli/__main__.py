"""`python -m shortlister.cli`: the same command as `shortlister`."""

from shortlister.cli import main

main()
