/** The names SCXML documents for FlowState use: the SCXML and FlowState namespaces, the invoke type. */

/** The W3C SCXML 1.0 namespace. */
export const SCXML_NS = 'http://www.w3.org/2005/07/scxml'
/** The namespace of FlowState's own SCXML attributes and elements (prefix `fs`). */
export const FLOWSTATE_NS = 'urn:stateflow:flowstate'
/** `<invoke type>` of an `action:`/`service:` ref. */
export const FLOWSTATE_INVOKE_TYPE = 'urn:stateflow:flowstate:ref'
