"""Article paragraphs the extraction tests build their pages from (one story, three paragraphs)."""

P1 = (
    "The river rose through the night, and by morning the old mill stood in water to its "
    "windows, the way the oldest residents, who remember the flood of 1952, said it would."
)
P2 = (
    "Engineers from the county arrived before noon, measured the current at the bridge, and "
    "closed the road in both directions while volunteers stacked sandbags along the bank."
)
P3 = (
    "By evening the water had begun to fall, leaving a line of mud on every wall in the lower "
    "town, and the mayor promised that repairs to the mill would start within the month."
)
URL = "https://news.example.org/2024/flood.html"
