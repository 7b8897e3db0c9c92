"""Prose of the Harbour Gazette's articles, written for the project (fictional events)."""

ROCKET = """
A small rocket built by a company that rents two hangars at the old airfield cleared its launch tower on Tuesday morning, climbing for just over ninety seconds before its engine shut down as planned and the vehicle fell into a cordoned stretch of sea eleven kilometres offshore.

The test was the first flight for Northwind Launch, which was founded four years ago by three engineers who met while working on satellite antennas. The company has twenty-six employees, most of them recruited from the region, and says it wants to carry small weather and communications satellites into low orbit by the end of the decade.

"Everything that was supposed to happen happened, and in the right order," said the company's chief engineer, Priya Anand, standing beside the mission control caravan as recovery boats headed out. "We learned more in ninety seconds than in a year of ground tests."

Tuesday's vehicle was a suborbital demonstrator, about a third of the height of the rocket the company hopes to fly later. It carried no payload apart from sensors that recorded vibration, temperature and the loads on the airframe. Those readings will be compared with computer models before the team decides whether to change the design of the engine mounts.

The launch had been postponed twice, first because of high winds and then because a fishing vessel strayed into the exclusion zone. Harbour master Tom Ellery said the coastguard had worked with local skippers for weeks to make sure the area was clear. "People were curious rather than worried," he said. "Half the town was on the cliff path with flasks of tea."

Not everyone is enthusiastic. A residents' group has asked the council to publish a full assessment of noise and the effect on nesting seabirds before any further flights are approved. The council said a report would be presented at its July meeting.

The company plans two more test flights this year, each going higher than the last.
"""

ROCKET_SYNDICATED_EXTRA = (
    "The flight was watched by officials from the national space agency, which part-funds the "
    "programme through a research grant."
)

COINS = """
A collection of ancient Greek coins that spent most of the last century in a private study will go on public display at the harbour museum from Saturday, after the family of a retired schoolteacher donated it last winter.

The forty-three silver and bronze coins were collected by the late Margaret Oduya, who taught classics at the grammar school for thirty years and bought most of them from dealers in the 1960s and 1970s, when such purchases were far less regulated than they are today.

Curator Daniel Fisk said the museum had spent months checking the history of every coin before accepting the gift. "We wanted to be certain that nothing in the collection had been taken from a site illegally," he said. "Where we could not trace a coin's past with confidence, we left it out of the display and have reported it to the relevant authorities."

The coins on show range from small bronze pieces used for everyday shopping to a heavy silver tetradrachm stamped with the head of a goddess on one side and an owl on the other. Visitors will be able to examine several of them through magnifying lenses mounted in the cases, and a touchscreen lets them rotate high-resolution scans of both faces.

"What I love about coins is that they were ordinary," said Mr Fisk. "Somebody paid for bread with these. You are looking at the small change of people who lived two and a half thousand years ago."

The exhibition also includes Mrs Oduya's notebooks, in which she recorded where and when she bought each coin, what she paid, and what she had been able to learn about it. Her grandson, Samuel, said she would have been delighted to see schoolchildren looking at them. "She always said they should be in a museum rather than a drawer," he said.

Entry to the exhibition is free. It runs until the end of October.
"""

LAB = """
The pathology laboratory at the district hospital has cleared a backlog of more than four thousand tissue samples after installing a digital slide scanner that allows specialists to examine slides on a screen from anywhere in the region.

Until last autumn, every biopsy taken at the hospital had to be examined under a microscope by one of the department's three consultant pathologists. When one of them retired and the post stayed vacant, waiting times for some results stretched to six weeks, and patients were told to expect delays.

The scanner, which cost a little under two hundred thousand pounds and was paid for partly by a charity appeal, photographs each glass slide at very high magnification and stores the image on the hospital's network. Pathologists at the university hospital in the city can now open the images on their own screens and report on them the same day.

Dr Helen Marsh, who leads the department, said the change had been "transformational" for patients waiting to hear whether a lump was cancerous. "Nobody should have to wait a month and a half for that kind of news," she said. "Today our average is under a week."

The laboratory's scientists still prepare every slide by hand. Thin slices of tissue are mounted on glass and treated with stains that colour particular proteins brown against a blue background, so that a pathologist can see which cells are producing them. That work, which takes skill and patience, is unchanged by the new equipment.

The hospital trust says it hopes to use the scanned images to help train junior doctors, and it is taking part in a national study of software that highlights areas of a slide for a pathologist to look at first. Dr Marsh stressed that any such software would support specialists rather than replace them.

The appeal raised money from more than nine hundred donors, including a sponsored swim across the harbour.
"""

EYES = """
A mobile eye-screening unit will tour fourteen villages along the coast and in the hills this summer, offering free checks to people with diabetes who have missed appointments at the hospital because of the distance and the cost of travel.

People with diabetes are advised to have their eyes examined every year, because high blood sugar can slowly damage the tiny blood vessels at the back of the eye. Caught early, the damage can usually be treated; left alone, it can cause serious loss of sight.

The screening van, a converted delivery lorry, carries a camera that photographs the retina through the pupil in a few seconds. The images are sent to graders at the hospital, who look for small bleeds, swelling and other early signs of disease, and patients receive their results by letter within three weeks.

Nurse practitioner Alan Reid, who will staff the van with a photographer and a receptionist, said attendance at the hospital clinic had fallen sharply among older patients in rural areas. "Some of them would need two buses each way and most of a day," he said. "If we park in the village hall car park, they can walk over after the post office."

The tour is being funded for one year by the regional health board. Officials said they would decide whether to continue the service once they had seen how many people used it and how many cases of eye disease it detected.

The van will visit each village twice, once in June and again in September. Appointments can be booked through GP surgeries, and the unit will also see people who simply turn up, as long as there is time.
"""

CAFE = """
When Rosa Albrecht opened a café in a former net store on the quay forty years ago, her first customers were fishermen coming off the night boats who wanted something hot before they went home to sleep. On Monday morning some of those same men, now long retired, were back at the counter as the café celebrated its anniversary.

The Quayside Café opens at five every morning, as it always has, and the menu has changed less than the prices. Bacon rolls, porridge and strong coffee still account for most of what is sold before eight o'clock. Later in the day the customers are more likely to be walkers and tourists, and there is now a cake cabinet and an espresso machine that Mrs Albrecht's son Lukas persuaded her to buy a decade ago.

"She said nobody here would pay for a flat white," Lukas said. "Now she drinks three a day."

The café has survived two floods, a fire in the kitchen and the closure of the fish market, which took away much of the early trade in the 1990s. Mrs Albrecht said she never considered closing. "The harbour needed somewhere to sit down," she said. "People come in to talk as much as to eat."

Regulars marked the anniversary by presenting her with a framed photograph of the café taken in its first summer, with a hand-painted sign and a queue of men in oilskins outside. It now hangs above the till.

Lukas, who runs the café day to day, said the family had no plans to change anything important. "We might get a new coffee grinder," he said. "That's about as radical as it gets."
"""

RIDE = """
More than three hundred motorcyclists rode in convoy along the coast road on Sunday to raise money for the lifeboat station, in what organisers believe was the largest charity ride the town has seen.

The riders set off from the supermarket car park at ten o'clock and followed a forty-mile route through the hill villages before returning along the seafront, where crowds lined the promenade to watch them arrive. Police closed the road for twenty minutes to allow the convoy to pass safely.

The event was organised by the local motorcycle club, whose members have held a smaller ride every summer for twelve years. This year they asked riders for a minimum donation of ten pounds and set up an online page, which had raised more than eleven thousand pounds by Sunday evening.

Club secretary Gemma Walsh said the lifeboat crew had helped two of the club's members when their boat broke down off the point three years ago. "They came out in awful weather for people they had never met," she said. "This is the least we can do."

Bikes of every age took part, from modern touring machines to a restored 1960s scrambler whose owner had finished rebuilding the engine the night before. A marshal on a quad bike rode at the back of the convoy to help anyone who broke down, and only two riders needed assistance.

The lifeboat station's operations manager, Chris Penrose, thanked the riders and said the money would go towards new drysuits for the volunteer crew.
"""

STORM = """
Crews worked through the night to clear fallen trees and repair damaged power lines after the strongest storm of the year brought gusts of more than seventy miles an hour to the coast.
"""
