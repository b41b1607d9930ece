"""Free-text locations resolved to countries: the gazetteer, the resolver, its report."""
