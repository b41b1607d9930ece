// What the page holds between requests; every module reads and updates this one object.

export const state = {
  stars: [], // starred ids, in starring order (pinned in this order)
  notes: {}, // id -> the recruiter's note on a starred candidate
  missing: new Set(), // starred ids the served pool no longer holds (kept, not sent)
  titles: {}, // id -> title, for the starred list
  shortlist: null, // the open saved shortlist: {id, name, query, method}; null: not saved yet
  maxStars: 5,
  authRequired: false,
  acceptedToken: null, // the token the server last accepted
  rejectedToken: null, // the token it last refused: not sent again
  trying: null, // the /methods call in flight: {token, result}
  seq: 0, // only the latest request's answer is drawn
  methods: {}, // name -> /methods entry (label, description, score_scale, llm)
  lastResult: null,
};

// The stars /rank is sent: those the served pool still holds.
export function activeStars() {
  return state.stars.filter((id) => !state.missing.has(id));
}
