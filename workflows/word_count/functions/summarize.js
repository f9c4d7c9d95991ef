exports.handler = async (event) => {
  const counts = {};
  for (const w of event.words) counts[w] = (counts[w] || 0) + 1;
  const top = Object.entries(counts)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([word, count]) => ({word, count}));
  return {total: event.words.length, distinct: top.length, top};
};
