"""Prose of the Fern & Feather blog and the Stargazers Club, written for the project."""

GALLERY = """
Chelsea turned up on our back step three winters ago, thin and suspicious, and never left. She is a tabby with a white chin and an opinion about everything, and she has become the subject of more of my photographs than the garden, the birds or my own family.

This week I set myself a small challenge: one photograph of her every day, taken with the same lens and only the light that came through the windows. Cats are wonderful subjects for practising with natural light because they go looking for it. Wherever the sun falls at a particular hour, that is where you will find them.

Monday was a windowsill portrait, with the light coming from the side and picking out every whisker. On Tuesday she sat in the hall, in the cool grey light from the skylight, and the picture came out soft and quiet. Wednesday was a disaster, because she decided that the camera strap was a toy, so I have included the least blurred frame as a warning.

The rest of the week went better. The portraits below are uncropped apart from the last one, where I wanted to show how much detail the lens keeps in her fur even at a wide aperture. If you are learning to photograph your own animals, my main advice is to get down to their eye level and wait. They will give you the picture eventually, usually just after you have put the camera down.
"""

NIGHT_SKY = """
You do not need a dark field miles from anywhere to start photographing the night sky. For the last year I have been taking pictures from a second-floor balcony in the middle of town, with streetlights below and a neighbour who leaves the porch light on all night, and I have been surprised by what is possible.

The Moon is the obvious place to begin. It is bright enough to photograph with a short exposure, which means you do not need a tracking mount, and a modest telephoto lens on a tripod will show craters along the line between light and shadow. The best time is not full moon, when the light falls straight on and flattens everything, but a few days either side of first or last quarter.

Deep-sky objects are harder from a city, but not impossible. I stack dozens of short exposures in free software, which averages out the noise and lets faint detail emerge. The famous deep field images from space telescopes are built on the same principle, with hundreds of hours of exposure on a single tiny patch of sky that looked empty.

My kit is deliberately simple: an old camera body, a second-hand lens, a solid tripod and a remote shutter release so that pressing the button does not shake the camera. Next winter I would like to try a small motorised mount, but for now I am still learning what this set-up can do.
"""

FILM_CAMERA = """
People are sometimes puzzled that I still carry a film camera alongside my digital one. It is heavier, it is slower, every frame costs money, and I do not see the results for a week. All of that is true, and all of it is the reason I keep using it.

With thirty-six exposures on a roll, I think harder about each picture. I wait for the person to step into the light, I check the horizon, I decide what belongs in the frame and what does not. With a digital camera I tend to fire off a dozen frames and sort them out later, which is useful for wildlife but bad for my patience and my eye.

The camera itself is a mechanical body from the late 1970s that belonged to my grandfather. It needs a battery only for the light meter, and even when that has died I can guess the exposure well enough on a bright day. The shutter has been serviced once, by a repairer who works from a shed behind his house and charged me less than a new lens cap.

Black and white film is the most forgiving to start with, and developing it at home needs only a small tank, a few chemicals and a dark cupboard to load the film. There is something very satisfying about hanging a wet strip of negatives in the bathroom and holding it up to the window to see what you caught.
"""

COLOUR = """
Most of the mistakes I made as a beginner painter were mistakes of colour rather than drawing. I would mix a green that looked fine on the palette and then watch it turn muddy on the paper, or put two colours side by side that fought instead of singing. Learning a little colour theory fixed more of those problems than any amount of practice.

The colour wheel is the simplest tool there is. Colours opposite each other, such as blue and orange, are called complementary, and when you place them next to each other each makes the other look more intense. Mixed together, they neutralise each other, which is exactly how you make a rich grey or brown without reaching for black.

Colours next to each other on the wheel, such as yellow, yellow-green and green, are called analogous. A painting built mostly from an analogous group feels calm and unified, and a small touch of the complement then draws the eye exactly where you want it. Landscape painters have used this trick for centuries.

Temperature matters as much as hue. Warm colours seem to come forward and cool colours seem to sink back, so a distant hill painted in a slightly cooler, paler version of the foreground green will sit further away. Try painting the same simple scene twice, once with warm shadows and once with cool ones, and you will see how much the mood changes.
"""

MOON_REPORT = """
Twelve members braved a cold, clear evening at the observing field on Friday for the club's first-quarter Moon session, and conditions were the best we have had since February. Seeing was steady enough to use high magnification for most of the evening.

The terminator ran close to the crater Ptolemaeus, and the low sunlight threw long shadows across its flat floor, showing several small craterlets that are usually invisible. Further south, the walls of Clavius were beautifully lit, and several members managed to count the chain of smaller craters across its floor.

Newer members spent time at the club's refractor learning to find their way around the lunar surface with a printed map. We recommend starting at the edges of the large dark plains, where features are easiest to recognise, and working outwards from there.

The session ended at half past eleven when cloud rolled in from the west. Our next observing evening is planned for the third Friday of next month; details will be posted on the events page and sent to the mailing list.
"""

DEEP_FIELD = """
In late 1995 astronomers pointed a space telescope at a patch of sky near the handle of the Plough that looked completely empty to earlier instruments. The patch was tiny, roughly the size of a grain of sand held at arm's length. Over ten days they collected several hundred exposures through different filters and combined them into a single image.

What they found was astonishing. Almost every speck of light in the picture turned out to be a galaxy, not a star, and there were about three thousand of them. Some were spirals like our own, others were small and irregular, and many were so far away that their light had been travelling for most of the age of the universe.

The image changed how astronomers thought about the early universe. By comparing galaxies at different distances, they could see how galaxies had grown and changed over billions of years. It also gave the public an intuitive sense of scale: if that speck of sky contains thousands of galaxies, the whole sky must contain a number that is hard to imagine.

At our next members' evening we will look at how the deep field was made and how similar techniques are used by amateurs today, stacking many short exposures to reveal faint objects. Bring a laptop if you would like to try stacking some of the club's own data.
"""
